"""Browser tests: the console driven in Debian's Chromium with Playwright, checked with axe."""
