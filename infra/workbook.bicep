// A shared Azure Monitor workbook, opened from the Application Insights component, that queries the Log
// Analytics workspace where the bridge's telemetry lands: one `bridge.request` event per request (AppEvents,
// the fields of the bridge's request record in Properties: bridge/telemetry/request_log.py) and one
// `bridge.reconcile` event per day of the reconciliation with Azure's bill. Views: cost and tokens per person,
// per role, per group, per deployment and day; the prompt-cache hit ratio (cached input / input) per
// deployment and client; time to first token and errors by kind; people over (and near) their budget;
// clients and agents; sessions whose managed settings drift; the bridge's cost against Azure's. Every field
// a query reads is one the telemetry writes (tests/test_telemetry_queries.py checks it).

@description('Display name of the workbook.')
param displayName string = 'Claude Azure Bridge usage'

@description('Region of the workbook.')
param location string

@description('Tags applied to the workbook.')
param tags object = {}

@description('Resource id of the Application Insights component the workbook is filed under.')
param appInsightsId string

@description('Resource id of the Log Analytics workspace the queries run against.')
param workspaceId string

// Every request view starts from this: one row per bridge request. Input counts cached input too (the
// semantic conventions' and Azure's sense), so the cache hit ratio is cached / input.
var bridgeRequests = '''
AppEvents
| where Name == "bridge.request"
| extend p = Properties
| project TimeGenerated,
    request_id = tostring(p.request_id),
    route = tostring(p.route),
    model = tostring(p.model),
    tier = tostring(p.tier),
    deployment = tostring(p.deployment),
    api = tostring(p.api),
    client = tostring(p.client),
    agent = tostring(p.agent),
    status = toint(p.status),
    error_type = tostring(p.error_type),
    refused = tostring(p.refused),
    latency_ms = todouble(p.latency_ms),
    ttft_ms = todouble(p.ttft_ms),
    input_tokens = tolong(p.input_tokens) + tolong(p.cache_read_input_tokens),
    cached_tokens = tolong(p.cache_read_input_tokens),
    output_tokens = tolong(p.output_tokens),
    reasoning_tokens = tolong(p.reasoning_tokens),
    cost_usd = todouble(p.cost_usd),
    attempts = toint(p.attempts),
    user_id = tostring(p.user_id),
    user_name = tostring(p.user_name),
    auth = tostring(p.auth),
    roles = tostring(p.roles),
    groups = tostring(p.groups),
    managed_settings = tostring(p.managed_settings)
'''

var perPerson = '''
| summarize requests = count(),
    cost_usd = round(sum(cost_usd), 2),
    input_tokens = sum(input_tokens),
    cached_tokens = sum(cached_tokens),
    output_tokens = sum(output_tokens),
    errors = countif(status >= 400),
    budget_refusals = countif(refused == "budget")
    by user_name, user_id
| order by cost_usd desc, input_tokens desc
'''

var perRole = '''
| extend role = split(iff(isempty(roles), "(no role)", roles), ",")
| mv-expand role to typeof(string)
| summarize people = dcount(user_id), requests = count(), cost_usd = round(sum(cost_usd), 2),
    input_tokens = sum(input_tokens), output_tokens = sum(output_tokens)
    by role
| order by cost_usd desc
'''

var perGroup = '''
| where isnotempty(groups) and groups != "overage"
| extend group_id = split(groups, ",")
| mv-expand group_id to typeof(string)
| summarize people = dcount(user_id), requests = count(), cost_usd = round(sum(cost_usd), 2),
    input_tokens = sum(input_tokens), output_tokens = sum(output_tokens)
    by group_id
| order by cost_usd desc
'''

var costPerDeploymentPerDay = '''
| where isnotempty(deployment)
| summarize cost_usd = round(sum(cost_usd), 2) by day = bin(TimeGenerated, 1d), deployment
| order by day asc
'''

var tokensPerDeploymentPerDay = '''
| where isnotempty(deployment)
| summarize input_tokens = sum(input_tokens), output_tokens = sum(output_tokens), requests = count()
    by day = bin(TimeGenerated, 1d), deployment
| order by day asc
'''

var cacheHitRatio = '''
| where isnotempty(deployment) and input_tokens > 0
| summarize input_tokens = sum(input_tokens), cached_tokens = sum(cached_tokens), requests = count()
    by deployment, client
| extend cache_hit_ratio = round(1.0 * cached_tokens / input_tokens, 3)
| order by input_tokens desc
'''

var cacheHitRatioPerDay = '''
| where isnotempty(deployment) and input_tokens > 0
| summarize cache_hit_ratio = round(1.0 * sum(cached_tokens) / sum(input_tokens), 3) by day = bin(TimeGenerated, 1d), deployment
| order by day asc
'''

var timeToFirstToken = '''
| where isnotempty(deployment) and ttft_ms > 0
| summarize p50_ms = percentile(ttft_ms, 50), p95_ms = percentile(ttft_ms, 95) by day = bin(TimeGenerated, 1d), deployment
| order by day asc
'''

var errorsByKind = '''
| where status >= 400 or isnotempty(error_type)
| extend kind = iff(isnotempty(refused), refused, error_type)
| summarize errors = count() by day = bin(TimeGenerated, 1d), kind
| order by day asc
'''

var latencyPerDay = '''
| summarize p50_ms = percentile(latency_ms, 50), p95_ms = percentile(latency_ms, 95) by day = bin(TimeGenerated, 1d)
| order by day asc
'''

var overBudget = '''
| where refused == "budget"
| summarize budget_refusals = count(), last_refused = max(TimeGenerated) by user_name, user_id
| order by last_refused desc
'''

var clientsAndAgents = '''
| where isnotempty(deployment)
| summarize requests = count(), cost_usd = round(sum(cost_usd), 2), input_tokens = sum(input_tokens),
    retries = sum(attempts - 1)
    by client, agent, tier
| order by requests desc
'''

// Claude Code sessions whose managed settings are not the ones their person is served (`other`: stale, edited
// on the machine, or loaded differently; `none`: no checksum sent), per person; only sessions that push
// CLAUDE_CODE_GATEWAY_HINT_HEADERS=1 send one (docs/gateway.md).
var managedSettingsDrift = '''
| where isnotempty(managed_settings)
| summarize requests = count(), served = countif(managed_settings == "served"),
    other = countif(managed_settings == "other"), none = countif(managed_settings == "none"),
    last_seen = max(TimeGenerated)
    by user_name, user_id
| where other > 0 or none > 0
| order by other desc, none desc
'''

// One row per reconciled day: the bridge's cost and Azure's (Cost Management), and how far apart they are.
var reconciliation = '''
AppEvents
| where Name == "bridge.reconcile"
| extend p = Properties
| project TimeGenerated,
    day = tostring(p.day),
    bridge_usd = todouble(p.bridge_usd),
    azure_usd = todouble(p.azure_usd),
    gap_percent = todouble(p.gap_percent),
    currency = tostring(p.currency),
    resources = toint(p.resources)
| summarize arg_max(TimeGenerated, *) by day
| order by day desc
'''

var resourceType = 'microsoft.operationalinsights/workspaces'

var views = [
  {
    name: 'cost and tokens per person'
    title: 'Cost and tokens per person (CLIENT_AUTH=entra: each person; token: the shared token)'
    query: concat(bridgeRequests, perPerson)
    visualization: 'table'
  }
  {
    name: 'per role'
    title: 'Cost and tokens per app role'
    query: concat(bridgeRequests, perRole)
    visualization: 'table'
  }
  {
    name: 'per group'
    title: 'Cost and tokens per group (object ids of the groups assigned to the bridge\'s application)'
    query: concat(bridgeRequests, perGroup)
    visualization: 'table'
  }
  {
    name: 'cost per deployment per day'
    title: 'Cost (USD) per deployment per day'
    query: concat(bridgeRequests, costPerDeploymentPerDay)
    visualization: 'barchart'
  }
  {
    name: 'tokens per deployment per day'
    title: 'Tokens per deployment per day'
    query: concat(bridgeRequests, tokensPerDeploymentPerDay)
    visualization: 'barchart'
  }
  {
    name: 'cache hit ratio'
    title: 'Prompt-cache hit ratio (cached input / input) per deployment and client: the largest lever on the bill'
    query: concat(bridgeRequests, cacheHitRatio)
    visualization: 'table'
  }
  {
    name: 'cache hit ratio per day'
    title: 'Prompt-cache hit ratio per deployment per day'
    query: concat(bridgeRequests, cacheHitRatioPerDay)
    visualization: 'linechart'
  }
  {
    name: 'time to first token'
    title: 'Time to first token p50 / p95 (ms) per deployment per day'
    query: concat(bridgeRequests, timeToFirstToken)
    visualization: 'linechart'
  }
  {
    name: 'errors by kind'
    title: 'Errors per day by kind (budget, rate_limit: refused by the person\'s budget or rate limit)'
    query: concat(bridgeRequests, errorsByKind)
    visualization: 'barchart'
  }
  {
    name: 'latency per day'
    title: 'Latency p50 / p95 (ms) per day'
    query: concat(bridgeRequests, latencyPerDay)
    visualization: 'linechart'
  }
  {
    name: 'over budget'
    title: 'People refused by their budget'
    query: concat(bridgeRequests, overBudget)
    visualization: 'table'
  }
  {
    name: 'clients and agents'
    title: 'Requests per client, Claude Code agent (main or subagent) and tier'
    query: concat(bridgeRequests, clientsAndAgents)
    visualization: 'table'
  }
  {
    name: 'managed settings'
    title: 'People whose Claude Code sessions run other managed settings than they are served, or send none'
    query: concat(bridgeRequests, managedSettingsDrift)
    visualization: 'table'
  }
  {
    name: 'reconciliation'
    title: 'The bridge\'s cost against Azure\'s bill (Cost Management), per day'
    query: reconciliation
    visualization: 'table'
  }
]

var workbookContent = {
  version: 'Notebook/1.0'
  items: concat([
    {
      type: 1
      name: 'title'
      content: {
        json: '## Claude Azure Bridge\nWho used what, on which deployment, at what cost, how much came from the prompt cache, what failed, and how the bridge\'s cost compares with Azure\'s bill. From the bridge\'s telemetry in the Log Analytics workspace (`AppEvents`: `bridge.request`, `bridge.reconcile`); the KQL behind each view is in docs/admin.md.'
      }
    }
    {
      type: 9
      name: 'parameters'
      content: {
        version: 'KqlParameterItem/1.0'
        style: 'pills'
        queryType: 0
        resourceType: resourceType
        parameters: [
          {
            id: '8f0d5c4e-2b7a-4f4e-9a55-0c1f8f6a2d11'
            version: 'KqlParameterItem/1.0'
            name: 'TimeRange'
            label: 'Time range'
            type: 4
            isRequired: true
            value: {
              durationMs: 2592000000
            }
            typeSettings: {
              selectableValues: [
                {
                  durationMs: 86400000
                }
                {
                  durationMs: 604800000
                }
                {
                  durationMs: 2592000000
                }
                {
                  durationMs: 7776000000
                }
              ]
            }
          }
        ]
      }
    }
  ], map(views, view => {
    type: 3
    name: view.name
    content: {
      version: 'KqlItem/1.0'
      title: view.title
      query: view.query
      size: 0
      queryType: 0
      resourceType: resourceType
      crossComponentResources: [
        workspaceId
      ]
      timeContextFromParameter: 'TimeRange'
      visualization: view.visualization
    }
  }))
  fallbackResourceIds: [
    appInsightsId
  ]
  '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, appInsightsId, 'claude-azure-bridge-usage')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: string(workbookContent)
  }
}

output id string = workbook.id
