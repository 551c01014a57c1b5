package funnel

import "strings"

// LookerTables are the views a Looker Studio report starts from: the
// deliveries model with names and the two daily views, in data-source order.
var LookerTables = []string{"deliveries_named", "delivery_funnel_daily", "deliverability_daily"}

// LookerStudioURL is a Looker Studio Linking API URL that creates a report
// with LookerTables of project.dataset as BigQuery data sources (ds0, ds1,
// ...). The user opening it needs read access to the dataset; nothing is
// created until they save the report. Terraform's looker_studio_url output
// is this URL (a test holds the two together).
func LookerStudioURL(project, dataset string) string {
	params := []string{"r.reportName=cioevents%20deliveries"}
	for i, t := range LookerTables {
		ds := "ds.ds" + string(rune('0'+i)) + "."
		params = append(params,
			ds+"connector=bigQuery", ds+"type=TABLE", ds+"projectId="+project, ds+"datasetId="+dataset,
			ds+"tableId="+t, ds+"datasourceName="+t)
	}
	return "https://lookerstudio.google.com/reporting/create?" + strings.Join(params, "&")
}
