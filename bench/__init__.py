"""``make bench``: the kiosk's speed and footprint beside references measured in the same run."""
