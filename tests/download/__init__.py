"""The downloader against real local HTTP servers and directory mirrors."""
