/**
 * Environment that keeps the real `newrelic` agent off the network beyond our collector: no cloud
 * metadata probes (AWS, Azure, GCP, PCF) and no container detection. Spread into every agent's env.
 */
export const AGENT_NO_UTILIZATION_PROBES: Readonly<Record<string, string>> = {
  NEW_RELIC_UTILIZATION_DETECT_AWS: 'false',
  NEW_RELIC_UTILIZATION_DETECT_AZURE: 'false',
  NEW_RELIC_UTILIZATION_DETECT_GCP: 'false',
  NEW_RELIC_UTILIZATION_DETECT_PCF: 'false',
  NEW_RELIC_UTILIZATION_DETECT_DOCKER: 'false',
  NEW_RELIC_UTILIZATION_DETECT_KUBERNETES: 'false',
};
