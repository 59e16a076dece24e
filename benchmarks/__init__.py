"""``make bench``: measurements on this machine (not shipped in the wheel)."""
