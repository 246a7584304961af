"""peakday's simulator: the scenario language, the peak-day model and its results."""
