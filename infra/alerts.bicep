// Alerts before the bill: an action group that emails alertEmail, and log alerts on the Log Analytics
// workspace (the bridge's telemetry lands there: AppEvents, AppTraces, AppAvailabilityResults; the host's
// log in FunctionAppLogs). Each query names only fields the bridge writes (tests/test_telemetry_queries.py
// checks them against what its telemetry exports); docs/admin.md explains each alert.
//
//   alert                     fires when                                                    checked every
//   daily cost                the bridge's charged cost since 00:00 UTC passes dailyCostUsd   hour
//   budget refusals           a person's budget refused their request (one alert a person)   15 minutes
//   upstream errors           more than upstreamErrorPercent of the requests that reached      15 minutes
//                             Azure OpenAI failed there (at least 20 requests)
//   indexing failure          the Functions host logged "Worker failed to index functions"     5 minutes
//   not serving               requests arrived (the availability test's probes of /health      5 minutes
//                             included) and none succeeded for 10 minutes
//   bill gap                  the daily reconciliation found the bridge's cost and Azure's     day
//                             bill apart by more than reconcileGapPercent
//
// Every rule skips query validation: a new workspace has none of these tables until data arrives.

@description('Region of the availability test.')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('ALERT_EMAIL: who gets the alerts by email; empty = the alerts show in the portal only.')
param alertEmail string = ''

@description('Resource id of the Log Analytics workspace the alerts query.')
param workspaceId string

@description('Resource id of the Application Insights component (the availability test reports to it).')
param appInsightsId string

@description('URL of the Function App (https://...), probed at /health by the availability test.')
param functionAppUrl string

@description('Whether to probe /health from Azure\'s test locations; off when ALLOWED_IP_RANGES keeps them out.')
param availabilityTest bool = true

@description('ALERT_DAILY_COST_USD: the organization\'s daily cost (US dollars, as the bridge charges it) that raises an alert.')
param dailyCostUsd int = 100

@description('ALERT_UPSTREAM_ERROR_PERCENT: the share of requests failing at Azure OpenAI (429s, 5xx, broken streams) that raises an alert.')
@minValue(1)
@maxValue(100)
param upstreamErrorPercent int = 10

@description('ALERT_RECONCILE_GAP_PERCENT: how far the bridge\'s daily cost and Azure\'s bill may be apart before an alert.')
@minValue(1)
@maxValue(100)
param reconcileGapPercent int = 5

var actionGroupName = 'ag-claude-azure-bridge-${uniqueString(workspaceId)}'
var testName = 'health-${uniqueString(functionAppUrl)}'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'ClaudeBridge'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'alert-email'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource availability 'Microsoft.Insights/webtests@2022-06-15' = if (availabilityTest) {
  name: testName
  location: location
  // Links the test to the component: Application Insights lists it and reports its results.
  tags: union(tags, toObject([
    concat('hidden-link:', appInsightsId)
  ], link => link, link => 'Resource'))
  kind: 'standard'
  properties: {
    SyntheticMonitorId: testName
    Name: 'claude-azure-bridge /health'
    Description: 'GET /health every 5 minutes from two locations: 200 when the app is indexed and configured.'
    Enabled: true
    Frequency: 300
    Timeout: 30
    Kind: 'standard'
    RetryEnabled: true
    Locations: [
      {
        Id: 'us-va-ash-azr'
      }
      {
        Id: 'emea-nl-ams-azr'
      }
    ]
    Request: {
      RequestUrl: '${functionAppUrl}/health'
      HttpVerb: 'GET'
      ParseDependentRequests: false
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      SSLCheck: false
    }
  }
}

var dailyCost = '''
AppEvents
| where Name == "bridge.request" and TimeGenerated >= startofday(now())
| summarize cost_usd = sum(todouble(Properties.cost_usd))
'''

var budgetRefusals = '''
AppEvents
| where Name == "bridge.request" and tostring(Properties.refused) == "budget"
| summarize refusals = count() by user_name = tostring(Properties.user_name)
'''

// Requests that reached Azure OpenAI (attempts > 0) and failed there: a 429 or 5xx, or a stream broken after its
// first byte (status 200 with an error_type).
var upstreamErrors = '''
AppEvents
| where Name == "bridge.request" and toint(Properties.attempts) > 0
| extend status = toint(Properties.status), error_type = tostring(Properties.error_type)
| summarize requests = count(), failed = countif(status == 429 or status >= 500 or (status == 200 and isnotempty(error_type)))
| where requests >= 20
| extend error_percent = 100.0 * failed / requests
'''

var indexingFailures = '''
union isfuzzy=true
    (AppTraces | where Message has "Worker failed to index functions" | project TimeGenerated),
    (FunctionAppLogs | where Message has "Worker failed to index functions" | project TimeGenerated)
| summarize failures = count()
'''

var notServing = '''
union isfuzzy=true
    (AppAvailabilityResults | summarize arrived = count(), succeeded = countif(Success == true)),
    (AppEvents | where Name == "bridge.request" | summarize arrived = count(), succeeded = countif(toint(Properties.status) < 500))
| summarize arrived = sum(arrived), succeeded = sum(succeeded)
| where arrived > 0 and succeeded == 0
'''

var billGap = '''
AppEvents
| where Name == "bridge.reconcile"
| extend gap_percent = abs(todouble(Properties.gap_percent))
| summarize gap_percent = max(gap_percent) by day = tostring(Properties.day)
'''

var rules = [
  {
    name: 'daily-cost'
    displayName: 'Claude Azure Bridge: daily cost over ${dailyCostUsd} USD'
    description: 'The cost the bridge charged since 00:00 UTC passed ALERT_DAILY_COST_USD.'
    severity: 2
    frequency: 'PT1H'
    window: 'P1D'
    query: dailyCost
    measure: 'cost_usd'
    threshold: dailyCostUsd
    dimensions: []
    mute: 'P1D'
  }
  {
    name: 'budget-refusals'
    displayName: 'Claude Azure Bridge: a person hit their budget'
    description: 'The bridge refused a request because the person\'s budget is spent (one alert per person).'
    severity: 3
    frequency: 'PT15M'
    window: 'PT15M'
    query: budgetRefusals
    measure: 'refusals'
    threshold: 0
    dimensions: [
      {
        name: 'user_name'
        operator: 'Include'
        values: [
          '*'
        ]
      }
    ]
    mute: 'PT12H'
  }
  {
    name: 'upstream-errors'
    displayName: 'Claude Azure Bridge: Azure OpenAI errors over ${upstreamErrorPercent}%'
    description: 'More than ALERT_UPSTREAM_ERROR_PERCENT of the requests that reached Azure OpenAI failed there (429, 5xx, broken streams).'
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    query: upstreamErrors
    measure: 'error_percent'
    threshold: upstreamErrorPercent
    dimensions: []
    mute: 'PT1H'
  }
  {
    name: 'indexing-failure'
    displayName: 'Claude Azure Bridge: the Functions host failed to index the app'
    description: 'The host logged "Worker failed to index functions": every route answers 404 until a fixed package is deployed.'
    severity: 1
    frequency: 'PT5M'
    window: 'PT5M'
    query: indexingFailures
    measure: 'failures'
    threshold: 0
    dimensions: []
    mute: 'PT1H'
  }
  {
    name: 'not-serving'
    displayName: 'Claude Azure Bridge: no successful request for 10 minutes'
    description: 'Requests arrived (the /health probes included) and none succeeded for 10 minutes.'
    severity: 1
    frequency: 'PT5M'
    window: 'PT10M'
    query: notServing
    measure: 'arrived'
    threshold: 0
    dimensions: []
    mute: 'PT1H'
  }
  {
    name: 'bill-gap'
    displayName: 'Claude Azure Bridge: the bridge\'s cost and Azure\'s bill differ by over ${reconcileGapPercent}%'
    description: 'The daily reconciliation (python -m bridge reconcile) found the cost the bridge charged and Azure Cost Management\'s apart: a price is wrong, traffic bypasses the bridge, or usage goes uncounted.'
    severity: 2
    frequency: 'P1D'
    window: 'P2D'
    query: billGap
    measure: 'gap_percent'
    threshold: reconcileGapPercent
    dimensions: []
    mute: 'P1D'
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in rules: {
  name: 'claude-azure-bridge-${rule.name}-${uniqueString(workspaceId)}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: rule.frequency
    windowSize: rule.window
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Maximum'
          metricMeasureColumn: rule.measure
          operator: 'GreaterThan'
          threshold: rule.threshold
          dimensions: rule.dimensions
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    muteActionsDuration: rule.mute
    skipQueryValidation: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

output actionGroupId string = actionGroup.id
output availabilityTestName string = availabilityTest ? availability.name : ''
