"""Imported only by multiprocessing's forkserver, as its first preload (``badspi batch``):
the forkserver dies with the run's main process that started it (see ``lifeline``)."""
from .lifeline import die_with_parent

die_with_parent()
