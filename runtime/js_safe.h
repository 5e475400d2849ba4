#pragma once
// The rule of host code, in one place: a value that app JS can reach is
// untrusted. App code can make any property read throw, loop or answer
// anything (getters, Proxies, patched prototypes), and any conversion to
// text run its code (toString, Symbol.toPrimitive). So host code:
//  - never calls ToLocalChecked(), Check() or FromJust() on the result of an
//    operation on such a value: an empty Maybe is that call's exception;
//  - reads app values only as what they already are (a string is text,
//    anything else is refused), never converting them;
//  - builds what it hands to JS from objects without a prototype and with
//    data properties (no inherited setter runs, no `then` is found);
//  - describes a thrown value without running app code;
//  - enters JS (calls, getters, microtasks) only under the watchdog.
// These helpers are how runtime/ does each of these. Internal to runtime/
// (it brings in V8).

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <v8.h>

namespace ps::runtime::js {

// The text of a JS string, or nullopt for any other value (never converted).
std::optional<std::string> utf8(v8::Isolate* isolate, v8::Local<v8::Value> value);

// The first `max_bytes` of a JS string's UTF-8 (whole characters), and its
// full length in bytes; nullopt for any other value.
std::optional<std::pair<std::string, std::size_t>> utf8_prefix(v8::Isolate* isolate, v8::Local<v8::Value> value,
                                                               std::size_t max_bytes);

// A JS string holding `text`; empty when it is over V8's string length limit.
v8::MaybeLocal<v8::String> string(v8::Isolate* isolate, std::string_view text);

// A JS string of text the host writes itself (names, messages). Text too long
// for a JS string is cut with a note, never a crash.
v8::Local<v8::String> message(v8::Isolate* isolate, std::string_view text);

// An object without a prototype, for values the host hands to JS.
v8::Local<v8::Object> bare_object(v8::Isolate* isolate);

// Defines an own data property; false when V8 refused (an exception is then
// pending in JS).
bool define(v8::Local<v8::Context> context, v8::Local<v8::Object> object, std::string_view key,
            v8::Local<v8::Value> value);

// Throws a TypeError with `text` into the running JS.
void throw_type_error(v8::Isolate* isolate, std::string_view text);

// What a thrown value says, as V8 describes it for an uncaught exception:
// "TypeError: message" for an error, the text of a string, "#<Object>" for
// other objects. Runs no app code (no toString, no getter).
std::string describe(v8::Isolate* isolate, v8::Local<v8::Value> thrown);

}  // namespace ps::runtime::js
