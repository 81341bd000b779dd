// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {DatasetNFT} from "./DatasetNFT.sol";

/// @title DatasetRegistry: unique human-readable slugs for datasets, and their USDC prices
/// @notice Registering mints the dataset's NFT (this contract is the NFT's minter). A slug is taken forever:
///         it is how people cite a dataset, so it never moves to another one. Price and metadata can be changed,
///         and the dataset retired (its token burned), only by the current holder — the creator until the token
///         is transferred — or by an operator the holder approved on the NFT (ERC-721 approval), such as the
///         Cluster service acting on the holder's instructions.
contract DatasetRegistry is Initializable, OwnableUpgradeable, UUPSUpgradeable {
    struct Dataset {
        address creator;
        uint256 price; // USDC base units (6 decimals); 0 = not for sale
        string slug;
    }

    DatasetNFT public nft;
    mapping(bytes32 slugHash => uint256 datasetId) private _idOfSlug;
    mapping(uint256 datasetId => Dataset) private _datasets;

    event DatasetRegistered(
        uint256 indexed datasetId, address indexed creator, string slug, string metadataCid, uint256 price
    );
    event PriceChanged(uint256 indexed datasetId, uint256 price);
    event MetadataChanged(uint256 indexed datasetId, string metadataCid);
    event DatasetRetired(uint256 indexed datasetId);

    error SlugTaken(string slug);
    error InvalidSlug(string slug);
    error UnknownDataset(uint256 datasetId);
    error NotHolder(uint256 datasetId, address caller);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function initialize(address initialOwner, DatasetNFT datasetNft) external initializer {
        __Ownable_init(initialOwner);
        nft = datasetNft;
    }

    /// @notice Register a dataset for `creator` (who receives the NFT). Anyone may register on someone's
    ///         behalf (the service does so for creators without a wallet); the creator owns the result.
    function register(address creator, string calldata slug, string calldata metadataCid, uint256 price)
        external
        returns (uint256 datasetId)
    {
        if (!isValidSlug(slug)) revert InvalidSlug(slug);
        bytes32 key = keccak256(bytes(slug));
        if (_idOfSlug[key] != 0) revert SlugTaken(slug);
        datasetId = nft.mint(creator, metadataCid);
        _idOfSlug[key] = datasetId;
        _datasets[datasetId] = Dataset({creator: creator, price: price, slug: slug});
        emit DatasetRegistered(datasetId, creator, slug, metadataCid, price);
    }

    function setPrice(uint256 datasetId, uint256 price) external {
        _requireHolder(datasetId);
        _datasets[datasetId].price = price;
        emit PriceChanged(datasetId, price);
    }

    function setMetadata(uint256 datasetId, string calldata metadataCid) external {
        _requireHolder(datasetId);
        nft.setMetadata(datasetId, metadataCid);
        emit MetadataChanged(datasetId, metadataCid);
    }

    /// @notice Burn the dataset's token and take it off sale for good. Its slug stays taken; buyers' access
    ///         records in the PaymentRouter are untouched.
    function retire(uint256 datasetId) external {
        _requireHolder(datasetId);
        _datasets[datasetId].price = 0;
        nft.burn(datasetId);
        emit DatasetRetired(datasetId);
    }

    function idOf(string calldata slug) external view returns (uint256) {
        return _idOfSlug[keccak256(bytes(slug))];
    }

    function datasetOf(uint256 datasetId) public view returns (Dataset memory) {
        Dataset memory dataset = _datasets[datasetId];
        if (dataset.creator == address(0)) revert UnknownDataset(datasetId);
        return dataset;
    }

    function priceOf(uint256 datasetId) external view returns (uint256) {
        return datasetOf(datasetId).price;
    }

    function beneficiaryOf(uint256 datasetId) external view returns (address) {
        datasetOf(datasetId);
        return nft.ownerOf(datasetId);
    }

    /// @notice 3 to 64 characters of [a-z0-9-], not starting or ending with '-'.
    function isValidSlug(string calldata slug) public pure returns (bool) {
        bytes calldata b = bytes(slug);
        if (b.length < 3 || b.length > 64 || b[0] == "-" || b[b.length - 1] == "-") return false;
        for (uint256 i = 0; i < b.length; i++) {
            bytes1 c = b[i];
            if (!((c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "-")) return false;
        }
        return true;
    }

    function _requireHolder(uint256 datasetId) internal view {
        datasetOf(datasetId);
        address holder = nft.ownerOf(datasetId);
        bool allowed = holder == msg.sender || nft.isApprovedForAll(holder, msg.sender)
            || nft.getApproved(datasetId) == msg.sender;
        if (!allowed) revert NotHolder(datasetId, msg.sender);
    }

    function _authorizeUpgrade(address) internal override onlyOwner {}
}
