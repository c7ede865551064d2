/**
 * Local bindings for the Step Functions service integrations our definitions use, executed for real
 * against the local peers (dynalite). Errors are named as Step Functions names them: the service
 * prefix plus the SDK's error name (`DynamoDB.ConditionalCheckFailedException`), so Retry/Catch match.
 */
import {
  type DynamoDBClient,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import { DYNAMODB_UPDATE_ITEM } from "../../etl/ledger.js";
import type { LocalResource } from "./runner.js";

class ServiceIntegrationError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export function dynamoDBIntegrations(client: DynamoDBClient): Record<string, LocalResource> {
  return {
    [DYNAMODB_UPDATE_ITEM]: async (input) => {
      try {
        const { $metadata: _m, ...response } = await client.send(
          new UpdateItemCommand(input as UpdateItemCommandInput),
        );
        return response;
      } catch (error) {
        const e = error as Error;
        throw new ServiceIntegrationError(`DynamoDB.${e.name}`, e.message);
      }
    },
  };
}
