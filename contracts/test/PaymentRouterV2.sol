// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PaymentRouter} from "../PaymentRouter.sol";

/// @notice Test-only upgrade target: proves an upgrade keeps state and changes code.
contract PaymentRouterV2 is PaymentRouter {
    function version() external pure override returns (string memory) {
        return "2";
    }
}
