module.exports = {
  testMatch: ['<rootDir>/jest/**/*.test.cjs'],
  globalSetup: '<rootDir>/jest/global-setup.cjs',
  globalTeardown: '<rootDir>/jest/global-teardown.cjs',
  testTimeout: 60_000,
};
