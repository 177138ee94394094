// Typed errors thrown at API boundaries. Library code never calls exit()/abort().
//
//   InputError  - the user's input is wrong (data file, config, checkpoint, CLI flag):
//                 the message names the file / line / key; the CLI exits with code 2.
//   OutputError - an output cannot be written (unwritable directory, disk full, file size
//                 limit): the message names the path and the system's reason (strerror);
//                 nothing half-written is left. An InputError: the user must fix the
//                 output location, so the CLI exits with code 2 as well.
//   ShapeError  - an op was called with shapes it does not accept (a programming error
//                 in a model graph); the message quotes the actual shapes.
//   Error       - anything else (I/O failure, numerical failure such as a NaN loss); exit 1.
#pragma once

#include <stdexcept>
#include <string>

namespace dc {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct InputError : Error {
  using Error::Error;
};

struct OutputError : InputError {
  using InputError::InputError;
};

struct ShapeError : Error {
  using Error::Error;
};

// Throws ShapeError(message) when `cond` is false. Used once, at each op's public entry.
inline void check_shape(bool cond, const std::string& message) {
  if (!cond) throw ShapeError(message);
}

}  // namespace dc
