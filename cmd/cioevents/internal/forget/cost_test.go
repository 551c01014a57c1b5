package forget

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/internal/testsupport/opcount"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/pipeline"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// bytesBilled estimates what BigQuery bills for sql over rows (on-demand:
// the data size of the columns it reads, over every partition the
// all-time filter reaches; a DELETE reads every column of the partitions
// it scans). Sizes follow BigQuery's data size per type: STRING 2 + its
// bytes, JSON its text, INT64/FLOAT64/TIMESTAMP 8, BOOL 1, NULL 0. The
// 10 MB minimum per statement is left out, and said in the report.
func bytesBilled(sql string, schema bigquery.Schema, rows []map[string]any) int64 {
	del := strings.HasPrefix(sql, "DELETE")
	var n int64
	for _, f := range schema {
		if !del && !regexp.MustCompile(`\b`+f.Name+`\b`).MatchString(sql) {
			continue
		}
		for _, r := range rows {
			v := r[f.Name]
			if v == nil {
				continue
			}
			switch f.Type {
			case bigquery.StringFieldType:
				n += 2 + int64(len(fmt.Sprint(v)))
			case bigquery.JSONFieldType:
				n += int64(len(fmt.Sprint(v)))
			case bigquery.BooleanFieldType:
				n++
			default:
				n += 8
			}
		}
	}
	return n
}

// deliveriesSchema is the part of the deliveries model forget reads.
var deliveriesSchema = bigquery.Schema{{Name: "workspace", Type: bigquery.StringFieldType},
	{Name: "delivery_id", Type: bigquery.StringFieldType}, {Name: "domain", Type: bigquery.StringFieldType}}

// TestForgetCost measures what a cloud forget of a person with 1,000 rows
// costs — Firestore operations counted at the wire (opcount), BigQuery
// statements and the bytes they read — and holds the counts to what the
// code says they are: per matched row, 4 ledger document reads (identity,
// actions record, event_id spread and unspread) and a delete per document
// that exists; one tombstone write per identifier. The numbers are logged
// for the report (go test -run TestForgetCost -v).
func TestForgetCost(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2,000 rows and 2,100 ledger documents")
	}
	ctx := context.Background()
	counter := &opcount.Firestore{}
	conn, err := counter.Dial(os.Getenv("FIRESTORE_EMULATOR_HOST"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fsOpts := []option.ClientOption{option.WithGRPCConn(conn)}
	c := newCloudRun(t, fsOpts...)
	c.f = newWarehouse(t, c.f.w.Policy, 30*time.Minute, map[string]bigquery.Schema{"d.deliveries": deliveriesSchema})
	c.sm.AddSecret("projects/forget-cloud/secrets/"+DefaultPIIKeySecret, key)

	const personRows, others = 1000, 1000
	bw := c.fs.BulkWriter(ctx)
	for i := range personRows {
		p := person{id: fmt.Sprintf("01JCOST%05d", i), object: "email", email: "jane@example.com", pid: "u_9001", cio: "c_1", recipient: "jane@example.com"}
		switch i % 4 {
		case 1:
			p.object, p.email, p.recipient = "sms", "", "+15550100"
		case 2:
			p.object, p.email, p.pid, p.recipient = "push", "", "", ""
		}
		r := p.row(t)
		c.f.insert(t, r)
		c.f.delivery(t, "default", *r.DeliveryID)
		ids := []string{ledger.DocID(r.Key()), ledger.DocID(pipeline.ActionsKey(r.Key()))}
		if i < 100 {
			ids = append(ids, ledger.LegacyDocID(r.EventID)) // from before the identity key
		}
		for _, id := range ids {
			if _, err := bw.Set(c.fs.Collection(c.coll).Doc(id), map[string]any{"state": "done"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	bw.End()
	for i := range others {
		r := person{id: fmt.Sprintf("01JOTHER%05d", i), object: "email", email: fmt.Sprintf("p%d@example.net", i),
			pid: fmt.Sprintf("u_%d", i), cio: fmt.Sprintf("c_%d", 1000+i), recipient: fmt.Sprintf("p%d@example.net", i)}.row(t)
		c.f.insert(t, r)
		c.f.delivery(t, "default", *r.DeliveryID)
	}
	processorFingerprint(t, c.fs, c.coll, key)
	c.f.clk.add(2 * time.Hour)
	before, rejected, deliveries := c.f.bq.Rows("d.events"), c.f.bq.Rows("d.rejected_events"), c.f.bq.Rows("d.deliveries")
	var statements []string
	counter.Reset()
	env := map[string]string{"CIO_PII": "email=hash", "LEDGER_COLLECTION": c.coll}
	err = Command(ctx, []string{"--email", "jane@example.com", "--project", "forget-cloud", "--dataset", "d"}, Env{
		Stdout: &c.out, Getenv: func(k string) string { return env[k] }, Now: c.f.clk.now,
		BigQueryOptions: c.f.opts, FirestoreOptions: fsOpts,
		Secrets:    cloudSecrets(c),
		Statements: func(s []string) { statements = s },
		Sleep:      func(ctx context.Context, d time.Duration) error { c.f.clk.add(d); return nil }})
	if err != nil {
		t.Fatalf("forget: %v\n%s", err, c.out.String())
	}
	if left, d := len(c.f.bq.Rows("d.events")), len(c.f.bq.Rows("d.deliveries")); left != others || d != others {
		t.Fatalf("%d events and %d deliveries rows left, want the %d others'", left, d, others)
	}
	docs := 2*personRows + 100
	// Reads: the key fingerprint, then 4 candidate documents per row.
	if counter.Reads() != 1+4*personRows || counter.Deletes() != int64(docs) || counter.Writes() != 4 {
		t.Errorf("Firestore: %d reads, %d deletes, %d writes; want %d, %d, 4 (the tombstones: 3 identifiers, and the address as stored)",
			counter.Reads(), counter.Deletes(), counter.Writes(), 1+4*personRows, docs)
	}
	var dml, selects int
	var billed int64
	for _, s := range statements {
		if strings.HasPrefix(s, "DELETE") {
			dml++
		} else {
			selects++
		}
		switch {
		case strings.Contains(s, "rejected_events"):
			billed += bytesBilled(s, warehouse.RejectedSchema(), rejected)
		case strings.Contains(s, ".deliveries`"):
			billed += bytesBilled(s, deliveriesSchema, deliveries)
		default:
			billed += bytesBilled(s, warehouse.EventsSchema(), before)
		}
	}
	var tableBytes int64
	for _, f := range warehouse.EventsSchema() {
		tableBytes += bytesBilled("DELETE", bigquery.Schema{f}, before)
	}
	if dml != 4 {
		t.Errorf("%d DML statements, want 4 (three tables, and the second sweep's rejected_events: no events row or delivery was left)", dml)
	}
	t.Logf("forget of a person with %d rows (table of %d rows, %d bytes): Firestore %d reads, %d deletes, %d writes, %d RPCs; "+
		"BigQuery %d statements (%d SELECT, %d DELETE), ~%d bytes read (%.1f × the table), each statement at least 10 MB billed",
		personRows, len(before), tableBytes, counter.Reads(), counter.Deletes(), counter.Writes(), counter.RPCs(),
		len(statements), selects, dml, billed, float64(billed)/float64(tableBytes))
}
