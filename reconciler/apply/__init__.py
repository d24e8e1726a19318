"""Apply: carrying a plan out against a backend, change by change, and reporting each outcome."""
