// The CommonJS side of the package's types (`require`), compiled as types.mts is.
import minimaxMock = require("minimax-mock");

async function use(): Promise<string> {
  const mock: minimaxMock.Mock = await minimaxMock.startMock();
  await mock.script("job-1", "fail");
  await mock.stop();
  return mock.baseUrl;
}
void use;
