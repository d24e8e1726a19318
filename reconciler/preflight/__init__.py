"""Pre-flight checks (`pim-reconciler doctor`): can this identity plan or apply these files
against this tenant? `checks.run_doctor` opens the target and runs `checks.run_checks`."""
