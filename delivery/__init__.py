"""What reaches the parent (e-mail) and the API caller (signed webhooks) when a video is ready,
has failed for good, or was deleted. Each sending is an RQ job of its own, never inside the
render job, and happens once per video and event (delivery/ledger.py)."""
