"""peakday's load drills: Locust replays a scenario against real checkout endpoints."""
