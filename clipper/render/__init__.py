"""CutPlan -> rendered clips: subtitles (pysubs2), filter graphs, ffmpeg argv, verification."""
