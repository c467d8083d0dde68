// backend_counters.h: the counters every backend instance keeps, written by
// its core and snapshotted into BackendStats by any thread.
#pragma once

#include "dataplane/common/counter.h"
#include "dataplane/io/io_backend.h"

namespace presenced::io {

struct BackendCounters {
  SingleWriterCounter rx_datagrams, rx_bytes, rx_errors, rx_dropped;
  SingleWriterCounter tx_datagrams, tx_bytes, tx_errors, wakeups;
  SingleWriterCounter rx_exception, tx_exception;

  BackendStats snapshot() const {
    BackendStats s;
    s.rx_datagrams = rx_datagrams.get();
    s.rx_bytes = rx_bytes.get();
    s.rx_errors = rx_errors.get();
    s.rx_dropped = rx_dropped.get();
    s.tx_datagrams = tx_datagrams.get();
    s.tx_bytes = tx_bytes.get();
    s.tx_errors = tx_errors.get();
    s.wakeups = wakeups.get();
    s.rx_exception = rx_exception.get();
    s.tx_exception = tx_exception.get();
    return s;
  }
};

}  // namespace presenced::io
