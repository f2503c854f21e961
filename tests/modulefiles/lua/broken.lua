-- Test module: always fails to load.
LmodError("broken: this test module always fails to load")
