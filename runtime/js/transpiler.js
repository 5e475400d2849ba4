// The transpiler isolate's whole program: sucrase, and the one function the
// daemon calls. Bundled by esbuild into the binary (runtime/CMakeLists.txt).
import { transform } from 'sucrase'
import { parse } from 'sucrase/dist/esm/parser'
import { TokenType as tt } from 'sucrase/dist/esm/parser/tokenizer/types'

// Whether the file uses ES module syntax (an import or export declaration;
// `import(...)` and `import.meta` do not count). Only such files become
// CommonJS, which makes them strict; other files keep their script semantics.
function isModule(code, typescript) {
  const { tokens } = parse(code, false, typescript, false)
  return tokens.some(
    (token, i) =>
      token.type === tt._export ||
      (token.type === tt._import && tokens[i + 1] !== undefined &&
        tokens[i + 1].type !== tt.parenL && tokens[i + 1].type !== tt.dot),
  )
}

// The file as the sandbox runs it: without TypeScript's types, ES module
// syntax turned into require/exports; lines stay where they were. A syntax
// error answers { message, line, column } instead.
globalThis.transpile = function (code, path) {
  const typescript = path.endsWith('.ts')
  try {
    const transforms = typescript ? ['typescript'] : []
    if (isModule(code, typescript)) transforms.push('imports')
    return { code: transform(code, { transforms, filePath: path, production: true }).code }
  } catch (e) {
    const loc = e && e.loc
    const message = String(e && e.message).replace(/ \(\d+:\d+\)$/, '')
    return { message: `${(e && e.name) || 'Error'}: ${message}`, line: loc ? loc.line : 0, column: loc ? loc.column : 0 }
  }
}
