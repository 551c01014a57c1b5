package funnel

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// columnsRead lists the events columns a view's SQL names, plus the three
// events_deduped's window always reads (event_id, event_time, received_at).
func columnsRead(sql string) []string {
	body := strings.Join(regexp.MustCompile(`(?m)^--.*$`).Split(sql, -1), "")
	body = regexp.MustCompile(`'[^']*'`).ReplaceAllString(body, "") // literals are not columns
	read := map[string]bool{"event_id": true, "event_time": true, "received_at": true}
	for _, f := range warehouse.EventsSchema() {
		if regexp.MustCompile(`\b` + f.Name + `\b`).MatchString(body) {
			read[f.Name] = true
		}
	}
	var out []string
	for _, f := range warehouse.EventsSchema() {
		if read[f.Name] {
			out = append(out, f.Name)
		}
	}
	return out
}

// logicalBytes is BigQuery's billed size of one value: STRING 2 + UTF-8
// length, INT64 and TIMESTAMP 8, BOOL 1; NULL is counted as 0.
func logicalBytes(v reflect.Value) int {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return 0
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return 8
	case string:
		return 2 + len(x)
	case int64:
		return 8
	case bool:
		return 1
	}
	return len(v.Bytes()) + 2
}

// TestViewsScanLittle keeps the wide columns (raw body, subject, URLs,
// failure text) out of every query of events (the views over the deliveries
// table read no events), and logs what a month of 10 M events costs to
// scan, from the fixtures' column sizes. The deliveries model reads
// failure_message alone, of bounces, to classify them (it stores the codes).
func TestViewsScanLittle(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "..", "testdata", "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatal("no fixtures", err)
	}
	var rows []warehouse.Row
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, warehouse.FromEvent(ev, time.Now(), nil, "0123456789012345"))
	}
	idx := map[string]int{}
	rt := reflect.TypeFor[warehouse.Row]()
	for i := range rt.NumField() {
		idx[rt.Field(i).Tag.Get("bigquery")] = i
	}
	var all int
	for _, r := range rows {
		for i := range rt.NumField() {
			all += logicalBytes(reflect.ValueOf(r).Field(i))
		}
	}
	t.Logf("whole row: %.0f bytes on average (%d fixtures)", float64(all)/float64(len(rows)), len(rows))
	queries := []View{{Name: "deliveries model (the MERGE's source)", SQL: DeliveriesSQL("t", "TRUE")}}
	for _, v := range Views() {
		if !strings.Contains(v.SQL, deliveriesVar) {
			queries = append(queries, v)
		}
	}
	for _, v := range queries {
		cols := columnsRead(v.SQL)
		for _, wide := range []string{"raw", "subject", "href", "failure_message"} {
			if wide == "failure_message" && v.SQL == queries[0].SQL {
				continue
			}
			for _, c := range cols {
				if c == wide {
					t.Errorf("%s reads %s", v.Name, wide)
				}
			}
		}
		var sum int
		for _, r := range rows {
			for _, c := range cols {
				sum += logicalBytes(reflect.ValueOf(r).Field(idx[c]))
			}
		}
		per := float64(sum) / float64(len(rows))
		t.Logf("%s reads %v: %.0f bytes per event, %.2f GB per month of 10 M events",
			v.Name, cols, per, per*10e6/1e9)
	}
}

// TestDeliveryRowBytes logs the logical bytes of a deliveries row over the
// fixtures, and of the columns the typical query (the funnel per send day)
// reads: the figures docs/performance.md works from.
func TestDeliveryRowBytes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "..", "testdata", "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatal("no fixtures", err)
	}
	var rows []warehouse.Row
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, warehouse.FromEvent(ev, time.Now(), nil, ""))
	}
	ds := Deliveries(rows, time.Now())
	size := func(v any) int {
		switch x := v.(type) {
		case nil:
			return 0
		case string:
			return 2 + len(x)
		case bool:
			return 1
		}
		return 8
	}
	trend := map[string]bool{"send_day": true}
	for _, s := range Stages {
		trend[s.At] = true
	}
	var all, read int
	for _, d := range ds {
		for _, c := range Model {
			n := size(d.Values[c.Name])
			all += n
			if trend[c.Name] {
				read += n
			}
		}
	}
	if len(ds) == 0 {
		t.Fatal("no deliveries in the fixtures")
	}
	row, q := float64(all)/float64(len(ds)), float64(read)/float64(len(ds))
	t.Logf("deliveries row: %.0f bytes on average (%d deliveries); the funnel per send day reads %.0f of them", row, len(ds), q)
	if q > 13*8 {
		t.Errorf("the funnel per send day reads %.0f bytes a row, over send_day and the 12 stage times", q)
	}
}
