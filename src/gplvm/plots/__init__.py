"""Figures (matplotlib, headless), and a helper process that draws them while a fit runs."""
