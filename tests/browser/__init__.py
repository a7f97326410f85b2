"""Browser tests: the console driven in Chromium by Playwright."""
