// The ES module entry: the same functions as index.cjs (one implementation,
// so a process that loads both shares one state).
import cjs from "./index.cjs";

export const { startMock, connectMock, binaryPath, MockError, EPOCH, TOKEN_ENV } = cjs;
