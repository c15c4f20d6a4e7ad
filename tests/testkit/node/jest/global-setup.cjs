module.exports = async () => {
  await require('cabinet-testkit').globalSetup({ project: 'jest-app' });
};
