"""promptloop: therapeutic music that adapts to a listener."""
__version__ = "0.1.0"
