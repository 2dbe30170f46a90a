import type { CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "pino";

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** The involvedObject of an Event about `obj`. */
export function involvedObject(obj: {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; uid?: string };
}): InvolvedObject {
  const { name = "", namespace, uid } = obj.metadata;
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name,
    ...(namespace === undefined ? {} : { namespace }),
    ...(uid === undefined ? {} : { uid }),
  };
}

export interface EventRecorder {
  record(obj: InvolvedObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

/** Writes core/v1 Events (cluster-scoped objects' events go to the `default` namespace); never throws. */
export function eventRecorder(core: CoreV1Api, component: string, log: Logger): EventRecorder {
  return {
    async record(obj, type, reason, message) {
      const namespace = obj.namespace ?? "default";
      const now = new Date();
      try {
        await core.createNamespacedEvent({
          namespace,
          body: {
            metadata: { generateName: `${obj.name}.`, namespace },
            involvedObject: { ...obj, namespace: obj.namespace },
            type,
            reason,
            message: message.slice(0, 1024),
            source: { component },
            reportingComponent: component,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        });
      } catch (error) {
        log.warn({ err: error, reason }, "Event not recorded");
      }
    },
  };
}
