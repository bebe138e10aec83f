package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dosguard/dosguard/guard"
)

// sharedDescs are the series of the shared state on Redis, served only
// with Redis_URL.
type sharedDescs struct {
	rounds, roundSeconds, up, dropped, claims, merged *prometheus.Desc
}

func newSharedDescs(d func(metric, help string, labels ...string) *prometheus.Desc) sharedDescs {
	return sharedDescs{
		rounds: d("dosguard_redis_sync_rounds_total",
			"Sync rounds with Redis by outcome: ok, or error (unreachable, timeout; the counts are held for the next round).", "outcome"),
		roundSeconds: d("dosguard_redis_sync_duration_seconds", "Time of one sync round: one pipelined round trip to Redis."),
		up:           d("dosguard_redis_up", "1 when the last call to Redis succeeded, 0 while it does not answer (counting and blocking locally)."),
		dropped: d("dosguard_redis_counts_dropped_total",
			"Counts never synced: beyond Redis_Max_Pending between two rounds or while Redis did not answer."),
		claims: d("dosguard_redis_claims_total",
			"Trips claimed on Redis by outcome: won (this instance acts), lost (another instance acts), error (Redis did not answer; this instance acts).", "outcome"),
		merged: d("dosguard_redis_bans_merged_total", "Bans of other instances taken from Redis."),
	}
}

func (s sharedDescs) list() []*prometheus.Desc {
	return []*prometheus.Desc{s.rounds, s.roundSeconds, s.up, s.dropped, s.claims, s.merged}
}

// collect sends the shared state's series.
func (s sharedDescs) collect(ch chan<- prometheus.Metric, st guard.SharedStats) {
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(s.rounds, st.RoundsOK, "ok")
	counter(s.rounds, st.RoundsFailed, "error")
	buckets := make(map[float64]uint64, len(guard.SyncRoundBuckets))
	for i, le := range guard.SyncRoundBuckets {
		buckets[le] = st.RoundCounts[i]
	}
	ch <- prometheus.MustNewConstHistogram(s.roundSeconds, st.RoundCount, st.RoundSeconds, buckets)
	up := 0.0
	if st.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(s.up, prometheus.GaugeValue, up)
	counter(s.dropped, st.Dropped)
	counter(s.claims, st.ClaimsWon, "won")
	counter(s.claims, st.ClaimsLost, "lost")
	counter(s.claims, st.ClaimErrors, "error")
	counter(s.merged, st.Merged)
}
