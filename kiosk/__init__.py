"""PC-side kiosk client for pay-per-use computers (扫码上机)."""
