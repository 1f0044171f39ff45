"""Media servers and the apps around them: webhooks in, a library refresh out.

Jellyfin, Plex, Emby, Tautulli, Sonarr, Radarr and Bazarr tell earwig that a file was added
or is being played; earwig turns that into a job through the same queue and skip rules as a
watched file, writes subtitles beside the media, and asks the server that owns the file to
look at it again. The parts, each with one job:

- `config.py`: the `[[media_server]]` tables.
- `paths.py`: a server's path to earwig's and back (`path_map`), and which folders a path
  named by a webhook may lie in at all.
- `payloads.py`: what each sender posts, read into `MediaEvent`s (no I/O).
- `clients.py`: the servers' own APIs (an item's path, its libraries, a refresh), over httpx.
- `refresh.py`: refreshes batched per server, rate-limited, retried with back-off.
- `service.py`: the daemon part that ties them to the queue, and what `earwig status` shows.
- `clock.py`: where a file's audio starts on its own clock (Bazarr's late-audio offset).

Nothing here imports the web stack: the webhook routes in `earwig.web` call `service.py`.
"""
