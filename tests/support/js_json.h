#pragma once
// What the apps' own JSON.parse (V8's) makes of a text: the oracle for the
// JSON the daemon accepts on the apps' behalf.

#include <string>

namespace ps::test {

// True when JSON.parse(text) succeeds; `text` is read as UTF-8 (an invalid
// sequence is refused, as a text that cannot be an app's string).
bool js_json_accepts(const std::string& text);

}  // namespace ps::test
