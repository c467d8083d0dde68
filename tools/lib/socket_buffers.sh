# socket_buffers.sh: sourced by scripts that push a million sessions through
# loopback UDP (tools/demo.sh, bench/e2e/run.sh). Raises the kernel's
# socket-buffer ceilings while they run and puts the old values back.
#
#   raise_socket_buffers WHO   as root: remembers net.core.rmem_max/wmem_max,
#                              sets both to 64 MiB, says so on stderr as WHO
#   restore_socket_buffers     puts the remembered values back (no-op when
#                              nothing was raised); call it from the EXIT trap
old_rmem=
old_wmem=

raise_socket_buffers() {
  [ "$(id -u)" -eq 0 ] || return 0
  old_rmem=$(sysctl -n net.core.rmem_max)
  old_wmem=$(sysctl -n net.core.wmem_max)
  echo "$1: raising net.core.rmem_max/wmem_max to 64 MiB while it runs (were $old_rmem/$old_wmem)" >&2
  sysctl -q -w net.core.rmem_max=67108864 net.core.wmem_max=67108864
}

restore_socket_buffers() {
  if [ -n "$old_rmem" ]; then
    sysctl -q -w net.core.rmem_max="$old_rmem" net.core.wmem_max="$old_wmem" || true
  fi
}
