"""The browser side of magic links: the landing page, the sign-in pages, and cross-device completion."""
