"""The ``peakday`` command line: one entry composing the commands each package registers."""
