# plots.gp: the end-to-end benchmark plots (bench/e2e/run.sh), from the data
# files aggregate.py writes. Usage:
#   gnuplot -e "datadir='bench/results/e2e'; imgdir='docs/img'" bench/e2e/plots.gp
if (!exists("datadir")) datadir = 'bench/results/e2e'
if (!exists("imgdir")) imgdir = 'docs/img'

set terminal pngcairo size 900,520 font "DejaVu Sans,11" noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics lc rgb "#dddddd"
set key top right
set yrange [0:*]
set format y "%.0s%c"

# 1. Throughput per server core, per backend and session count.
set output imgdir.'/e2e_throughput.png'
set title "presenced end to end: heartbeats per server core-second (loopback, 1 data core)"
set ylabel "heartbeats / server core-second"
set xlabel "sessions"
plot datadir.'/throughput.dat' using 2:xtic(1) title "socket backend" lc rgb "#4472c4", \
     ''                        using 4 title "io_uring backend" lc rgb "#ed7d31", \
     ''                        using 0:2:(sprintf("%.0fk", $2/1000)) with labels offset char -3,0.8 notitle, \
     ''                        using 0:4:(sprintf("%.0fk", $4/1000)) with labels offset char 3,0.8 notitle

# 2. Redis comparison: per-core rate and memory per session.
set output imgdir.'/e2e_redis.png'
set terminal pngcairo size 1200,560 font "DejaVu Sans,11" noenhanced
set multiplot layout 1,2 title "presenced vs Redis (SET presence:{user}:{device} EX timeout, pipelined), same machine, same sessions"
set title "updates per server core-second (CPU time from /proc)"
set ylabel "per core-second (log scale)"
set logscale y
set yrange [10000:*]
set key top left
plot datadir.'/comparison.dat' using 2:xtic(1) title "presenced, all CPU time" lc rgb "#ed7d31", \
     ''                        using 3 title "Redis, all CPU time" lc rgb "#a5a5a5", \
     ''                        using 6 title "presenced, user space only" lc rgb "#f4b183", \
     ''                        using 7 title "Redis, user space only" lc rgb "#d9d9d9"
unset logscale y
set yrange [0:*]
set title "memory per session"
set ylabel "bytes per session"
set format y "%.0f"
set key top left
plot datadir.'/comparison.dat' using 4:xtic(1) title "presenced (RSS / sessions)" lc rgb "#ed7d31", \
     ''                        using 5 title "Redis (used_memory / keys)" lc rgb "#a5a5a5", \
     ''                        using ($0-0.2):4:(sprintf("%.0f", $4)) with labels offset 0,0.8 notitle, \
     ''                        using ($0+0.2):5:(sprintf("%.0f", $5)) with labels offset 0,0.8 notitle
unset multiplot

# 3. Offline detection delay beyond the timeout, as CDFs (log x).
set output imgdir.'/e2e_detection.png'
set terminal pngcairo size 900,520 font "DejaVu Sans,11" noenhanced
set style data lines
set title "offline detection: delay of the offline signal beyond the timeout"
set xlabel "delay beyond the timeout (ms, log scale; values below 0.1 ms drawn at 0.1)"
set ylabel "fraction of the silenced sessions signalled"
set logscale x
set xrange [0.1:*]
set yrange [0:1.02]
set format x "%g"
set format y "%.1f"
set key top left
set grid xtics ytics lc rgb "#dddddd"
clip(x) = x < 0.1 ? 0.1 : x
plot datadir.'/cdf_presenced.dat' using (clip($1)):2 title "presenced OFFLINE event" lw 3 lc rgb "#ed7d31", \
     datadir.'/cdf_redis.dat'     using (clip($1)):2 title "Redis keyspace expired event" lw 3 lc rgb "#7f7f7f"
