"""Media that crosses the API as bytes: audio decoded from uploads and encoded for responses, transcripts
written as subtitles. Shared by the gateway (which prices an upload by its duration) and the local engines."""
