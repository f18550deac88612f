"""Speech to text: media audio -> Transcript (words with timestamps)."""
