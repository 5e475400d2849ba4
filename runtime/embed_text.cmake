# Turns a text file into a C++ source defining `const char* <NAME>`, so the
# JavaScript the runtime needs ships inside the binary.
file(READ "${INPUT}" content)
file(WRITE "${OUTPUT}" "// Generated from ${INPUT}; edit that file instead.\nnamespace ps::runtime {\nextern const char* const ${NAME} = R\"PS_EMBED(${content})PS_EMBED\";\n}\n")
