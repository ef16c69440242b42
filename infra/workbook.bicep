// A shared Azure Monitor workbook on the Application Insights component that
// charts the bridge's per-request JSON log line (request_id, route, model,
// deployment, status, latency_ms, input_tokens, output_tokens,
// cache_read_input_tokens, attempts, user_id, user_name, auth, key_id): requests,
// latency, errors and tokens per model per day, and tokens per user and model.
// The log line arrives in `traces` with the JSON in `message`.

@description('Display name of the workbook.')
param displayName string = 'Claude Azure Bridge usage'

@description('Region of the workbook.')
param location string

@description('Tags applied to the workbook.')
param tags object = {}

@description('Resource id of the Application Insights component the queries run against.')
param appInsightsId string

// Every chart starts from this: one row per bridge request.
var bridgeRequests = '''
traces
| where message startswith "{" and message has "request_id"
| extend r = parse_json(message)
| where isnotempty(tostring(r.request_id))
| project timestamp,
    request_id = tostring(r.request_id),
    route = tostring(r.route),
    model = tostring(r.model),
    deployment = tostring(r.deployment),
    status = toint(r.status),
    latency_ms = todouble(r.latency_ms),
    input_tokens = tolong(r.input_tokens),
    output_tokens = tolong(r.output_tokens),
    cache_read_input_tokens = tolong(r.cache_read_input_tokens),
    attempts = toint(r.attempts),
    user_id = tostring(r.user_id),
    user_name = tostring(r.user_name),
    auth = tostring(r.auth),
    key_id = tostring(r.key_id)
'''

var requestsPerModel = '''
| summarize requests = count() by day = bin(timestamp, 1d), model
| order by day asc
'''

var latencyPerDay = '''
| summarize p50_ms = percentile(latency_ms, 50), p95_ms = percentile(latency_ms, 95) by day = bin(timestamp, 1d)
| order by day asc
'''

var latencyPerModel = '''
| summarize p95_ms = percentile(latency_ms, 95) by day = bin(timestamp, 1d), model
| order by day asc
'''

var errorsPerDay = '''
| where status >= 400
| summarize errors = count() by day = bin(timestamp, 1d), status = tostring(status)
| order by day asc
'''

var tokensPerModel = '''
| summarize tokens = sum(input_tokens) + sum(output_tokens) by day = bin(timestamp, 1d), model
| order by day asc
'''

var tokensPerUser = '''
| where isnotempty(user_id)
| summarize requests = count(),
    input_tokens = sum(input_tokens),
    output_tokens = sum(output_tokens),
    tokens = sum(input_tokens) + sum(output_tokens),
    personal_key_requests = countif(auth == "key")
    by user_name, user_id, model
| order by tokens desc
'''

var dailyTable = '''
| summarize requests = count(),
    errors = countif(status >= 400),
    p50_ms = percentile(latency_ms, 50),
    p95_ms = percentile(latency_ms, 95),
    input_tokens = sum(input_tokens),
    output_tokens = sum(output_tokens),
    cache_read_input_tokens = sum(cache_read_input_tokens),
    retries = sum(attempts - 1)
    by day = bin(timestamp, 1d), model, deployment
| order by day desc, requests desc
'''

var resourceType = 'microsoft.insights/components'

var workbookContent = {
  version: 'Notebook/1.0'
  items: [
    {
      type: 1
      name: 'title'
      content: {
        json: '## Claude Azure Bridge\nRequests, latency, errors and tokens per model per day, and usage per user, from the bridge\'s per-request log line (`traces`, JSON in `message`).'
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
    {
      type: 3
      name: 'requests per model per day'
      content: {
        version: 'KqlItem/1.0'
        title: 'Requests per model per day'
        query: concat(bridgeRequests, requestsPerModel)
        size: 0
        queryType: 0
        resourceType: resourceType
        timeContextFromParameter: 'TimeRange'
        visualization: 'barchart'
      }
    }
    {
      type: 3
      name: 'latency per day'
      content: {
        version: 'KqlItem/1.0'
        title: 'Latency p50 / p95 (ms) per day'
        query: concat(bridgeRequests, latencyPerDay)
        size: 0
        queryType: 0
        resourceType: resourceType
        timeContextFromParameter: 'TimeRange'
        visualization: 'linechart'
      }
    }
    {
      type: 3
      name: 'latency per model'
      content: {
        version: 'KqlItem/1.0'
        title: 'Latency p95 (ms) per model per day'
        query: concat(bridgeRequests, latencyPerModel)
        size: 0
        queryType: 0
        resourceType: resourceType
        timeContextFromParameter: 'TimeRange'
        visualization: 'linechart'
      }
    }
    {
      type: 3
      name: 'errors per day'
      content: {
        version: 'KqlItem/1.0'
        title: 'Errors per day by status'
        query: concat(bridgeRequests, errorsPerDay)
        size: 0
        queryType: 0
        resourceType: resourceType
        timeContextFromParameter: 'TimeRange'
        visualization: 'barchart'
      }
    }
    {
      type: 3
      name: 'tokens per model per day'
      content: {
        version: 'KqlItem/1.0'
        title: 'Tokens (input + output) per model per day'
        query: concat(bridgeRequests, tokensPerModel)
        size: 0
        queryType: 0
        resourceType: resourceType
        timeContextFromParameter: 'TimeRange'
        visualization: 'barchart'
      }
    }
    {
      type: 3
      name: 'tokens per user and model'
      content: {
        version: 'KqlItem/1.0'
        title: 'Usage per user and model (CLIENT_AUTH=entra: each person; token: the shared token)'
        query: concat(bridgeRequests, tokensPerUser)
        size: 0
        queryType: 0
        resourceType: resourceType
        timeContextFromParameter: 'TimeRange'
        visualization: 'table'
      }
    }
    {
      type: 3
      name: 'daily table'
      content: {
        version: 'KqlItem/1.0'
        title: 'Per day, model and deployment'
        query: concat(bridgeRequests, dailyTable)
        size: 0
        queryType: 0
        resourceType: resourceType
        timeContextFromParameter: 'TimeRange'
        visualization: 'table'
      }
    }
  ]
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
