"""Everything that touches media files goes through ffmpeg.py."""
