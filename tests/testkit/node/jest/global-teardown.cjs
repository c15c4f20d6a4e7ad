module.exports = () => require('cabinet-testkit').globalTeardown();
