"""A YouTube-shaped channel extractor served from the local test server.

YouTube itself cannot be reached from this machine, so this stands in for it: it lists a
channel the way yt-dlp's YouTube tab extractor does in flat mode (entries with ie_key
"Youtube" and video ids), reading the channel's videos from a JSON file on 127.0.0.1.
"""

from __future__ import annotations

from yt_dlp.extractor.common import InfoExtractor


class FakeYoutubeChannelIE(InfoExtractor):
    IE_NAME = "fakeyoutube:channel"
    _VALID_URL = r"http://127\.0\.0\.1:\d+/youtube/@(?P<id>[\w-]+)/videos"

    def _real_extract(self, url: str) -> dict:
        channel = self._match_id(url)
        videos = self._download_json(url + ".json", channel)
        entries = [
            self.url_result(v["media"], ie="Youtube", video_id=v["id"], video_title=v["title"])
            for v in videos
        ]
        return self.playlist_result(entries, playlist_id=channel, playlist_title=channel)
