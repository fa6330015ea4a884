// Integration and end-to-end tests wait on real servers; jest's 5 s default is for unit tests.
jest.setTimeout(Number(process.env.CATCHALL_TEST_TIMEOUT_MS ?? 90_000));
