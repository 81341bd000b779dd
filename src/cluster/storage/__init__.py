"""Content-addressed storage: UnixFS CIDs computed here (identical to kubo's), blockstores, encryption."""
