// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title Cluster Protocol token ($CP)
/// @notice Capped ERC-20 with gasless approvals (EIP-2612) and delegated voting power (ERC20Votes) for
///         governance. Only the owner mints, and never past the cap fixed at deployment.
contract ClusterToken is ERC20, ERC20Capped, ERC20Permit, ERC20Votes, Ownable {
    constructor(address initialOwner, uint256 supplyCap)
        ERC20("Cluster Protocol", "CP")
        ERC20Capped(supplyCap)
        ERC20Permit("Cluster Protocol")
        Ownable(initialOwner)
    {}

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value)
        internal
        override(ERC20, ERC20Capped, ERC20Votes)
    {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
