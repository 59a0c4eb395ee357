"""Text rules shared by the build and query sides: tokens, citation markers."""
