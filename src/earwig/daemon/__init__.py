"""The daemon: socket server, queue runner and folder watchers on one asyncio loop."""
