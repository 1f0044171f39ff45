"""The Textual dashboard. It talks to the daemon only through earwig.client and the protocol."""
