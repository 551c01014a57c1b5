package cost

// Prices are public list prices in USD, before free tiers and discounts.
// They are assumptions, not quotes: check the pages named in Sources for a
// region and date of your own. A change here changes the generated tables
// (run the command in the package documentation).
type Prices struct {
	Date    string   // when the pages were read
	Sources []string // the pages the figures are from

	// Cloud Run functions (2nd gen runs on Cloud Run), Tier 1 region,
	// request-based billing ("CPU only allocated during request
	// processing"): instance time is billed while it serves at least one
	// request, rounded up to 100 ms.
	RequestPerMillion float64 // per million requests
	VCPUSecond        float64 // per vCPU-second
	GiBSecond         float64 // per GiB-second of memory

	Firestore map[string]FirestorePrices // by Settings.FirestoreLocation kind

	// Pub/Sub throughput: message data + attributes + 20 bytes of
	// timestamp + message ID, with a minimum of 1,000 bytes per publish,
	// push or pull request; publish and delivery each count.
	PubSubPerTiB float64

	// BigQuery legacy streaming inserts (tabledata.insertAll): per 200 MB,
	// each row counted as at least 1 KB.
	StreamingPer200MB float64

	// Cloud Logging ingestion, per GiB (after the first 50 GiB per project
	// and month).
	LoggingPerGiB float64
}

// FirestorePrices are Firestore (Standard edition) operation prices per
// 100,000 documents. A TTL deletion is billed as a delete.
type FirestorePrices struct {
	Read, Write, Delete float64
}

// Firestore location kinds priced in ListPrices.
const (
	MultiRegion = "nam5"        // the default firestore_location
	Regional    = "us-central1" // a single region in the US
)

// ListPrices were read on Date from the pages in Sources.
var ListPrices = Prices{
	Date: "2026-11-28",
	Sources: []string{
		"https://cloud.google.com/run/pricing (Tier 1, request-based billing)",
		"https://cloud.google.com/firestore/pricing (Standard edition, by location)",
		"https://cloud.google.com/pubsub/pricing (throughput, minimum billable volume)",
		"https://cloud.google.com/bigquery/pricing (streaming inserts)",
		"https://cloud.google.com/stackdriver/pricing (Cloud Logging ingestion)",
	},
	RequestPerMillion: 0.40,
	VCPUSecond:        0.000024,
	GiBSecond:         0.0000025,
	Firestore: map[string]FirestorePrices{
		MultiRegion: {Read: 0.06, Write: 0.18, Delete: 0.02},
		Regional:    {Read: 0.03, Write: 0.09, Delete: 0.01},
	},
	PubSubPerTiB:      40,
	StreamingPer200MB: 0.01,
	LoggingPerGiB:     0.50,
}

// Latencies are assumed round-trip times of one call from a function in
// its region; the run cannot measure them (its services are local
// emulators and fakes). They matter through billed instance time: an
// instance is billed while a request waits on a call, shared by the
// requests it serves at once.
type Latencies struct {
	FirestoreMS float64 // one commit or lookup, same continent
	PublishMS   float64 // one Pub/Sub publish, including the 1 ms batching delay
	BigQueryMS  float64 // one insertAll request
	TrackMS     float64 // one Customer.io Track API call
}

// AssumedLatencies are typical in-region figures, not measurements.
var AssumedLatencies = Latencies{FirestoreMS: 15, PublishMS: 15, BigQueryMS: 40, TrackMS: 80}

// Settings are the deployment choices the estimate depends on. Defaults
// mirrors terraform/modules/cioevents/variables.tf and terraform/modules/cioevents/functions.tf (a test keeps
// them equal).
type Settings struct {
	FirestoreLocation    string // a key of Prices.Firestore
	ReceiverConcurrency  int
	ProcessorConcurrency int
	ReceiverMemoryMiB    int
	ProcessorMemoryMiB   int
	ReceiverVCPU         float64
	ProcessorVCPU        float64
}

// Defaults are the settings of a default deployment.
var Defaults = Settings{
	FirestoreLocation:    MultiRegion,
	ReceiverConcurrency:  12,
	ProcessorConcurrency: 80,
	ReceiverMemoryMiB:    512,
	ProcessorMemoryMiB:   1024,
	ReceiverVCPU:         1,
	ProcessorVCPU:        1,
}
