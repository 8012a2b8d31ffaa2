"""lotc: a compiler from LoT (the Language of Things) to asyncio Python services."""

__version__ = "0.1.0"
